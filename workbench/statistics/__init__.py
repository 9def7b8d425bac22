"""De-identified statistics for analysts (F8): publishing the mart, tables from it, statistical disclosure control."""
