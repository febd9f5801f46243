// CascadeStore
