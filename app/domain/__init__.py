"""Pure domain core: no Kafka, no Faust. Everything here is unit-tested exhaustively."""
