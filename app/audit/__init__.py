"""What was done: the audit trail of every action that changes the cluster, its queries,
export and retention."""
