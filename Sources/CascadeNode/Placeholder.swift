// CascadeNode
