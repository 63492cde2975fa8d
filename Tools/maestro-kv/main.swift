// Entry point of maestro-kv (see MaestroKV.swift).
MaestroKV.main()
