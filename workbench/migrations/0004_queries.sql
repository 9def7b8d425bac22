-- F2-F6 query batches (filled by the query work).
SELECT 1;
