-- F1: registration of Individual Numbers, return lists, review queue (filled by the registration work).
SELECT 1;
