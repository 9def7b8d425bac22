"""Getting people and their numbers in (取得): the target list, collection by the contractor and the portal,
registration and its review, the integrated-number request (F1b), and one person's page."""
