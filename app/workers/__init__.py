"""Workers as pages and the API see them: liveness, detail, actions, frames."""
