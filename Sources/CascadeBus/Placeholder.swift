// CascadeBus
