"""The billing API: usage for tenants, the usage report for nodes."""
