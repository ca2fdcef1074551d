from ikou.codecs import mainframe  # noqa: F401  (registers cp930, cp939, ebcdik)
