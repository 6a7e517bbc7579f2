"""The cluster's queues: their names and the /broker page's data."""
