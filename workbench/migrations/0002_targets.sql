-- F0, F0b, F1b: target list, collection list, integrated numbers (filled by the targets work).
SELECT 1;
