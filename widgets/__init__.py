"""ipywidgets apps for the staff dashboards (Voila)."""
