// CascadeKafka
