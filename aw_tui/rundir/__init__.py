"""The run directory (``docs/run-directory.md``): ``layout`` (every file name), ``store`` (the
writer), ``journal`` (reader, checksums, fold), ``checkpoint`` (find, trust check, load,
replay, what ``--resume`` would do), ``lock`` (the kernel lock), ``control`` (requests and the
one ``apply_edit``), ``edits`` (the one encoding of edited kwargs), ``trust`` (the one door
through which a file is unpickled) and ``vocabulary`` (the status words). Imports only
:mod:`aw_tui.base`."""
