// CascadeGraph
