"""Storage backends: the Store protocol and the embedded memory and file stores."""
