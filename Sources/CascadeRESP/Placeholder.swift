// CascadeRESP
