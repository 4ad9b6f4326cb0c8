"""Bootstrap rankings, aggregated ranks, paper-style tables and figures."""
