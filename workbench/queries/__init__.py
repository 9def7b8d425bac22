"""Information queries (情報照会) and what comes back: query rules, procedures (P1), query batches (F2/F3),
results (F4/F5), discrepancies and the linkage file to the housing business system (F6)."""
