"""The dashboards (Voila): ``index.ipynb``, the staff's one entry point, and ``analyst_example.ipynb``.

Shipped with the package as data (``pyproject.toml`` package-data), like the cycle notebooks in
``pipelines``, and found through the import system (:data:`workbench.web.serve.NOTEBOOKS`), so
``pip install .`` then ``workbench serve`` works outside a source checkout too.  One or two cells
each, no logic.
"""
