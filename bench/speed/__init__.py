"""How fast, and what it costs: the pipeline per stage against its bare parts, each network on
each engine, the packs against each other and against the peer package, the whole service, worker
start-up, memory at the decoders' pixel caps and the bytes one result keeps."""
