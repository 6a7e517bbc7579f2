"""The task history as pages and the API read it: filters, queries, detail, export."""
