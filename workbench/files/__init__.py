"""Files in and out: external layouts (formats), transfer packages, query files, the media ledger (C9) and
the outgoing-file registry every file with personal data leaves through."""
