"""The cycle notebooks (定例処理): one Papermill-parameterised notebook per cycle.

Shipped with the package as data (``pyproject.toml`` package-data) and found through the
import system (:data:`workbench.cycles.pipeline_runs.PIPELINE_DIR`), never by a path outside what is
installed.  Each notebook's first cell is its ``parameters`` cell; each step calls the same
``workbench`` services as the CLI and the dashboards (DESIGN §10).
"""
