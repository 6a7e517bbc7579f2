"""The one door to the cluster: remote control, Inspector calls, queue lengths."""
