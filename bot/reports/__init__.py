"""Documents and charts from the council's records, for any front end (DOCX, XLSX, PNG, SVG)."""
