-- A customer's paid orders in one month, newest first.
-- Parameters: :customer_id (integer), :month ('YYYY-MM').
-- The month is a half-open range on the raw column, so the index can answer it:
-- a function of created_at (strftime) would force a look at every row.
SELECT id, created_at, total_cents
FROM orders
WHERE customer_id = :customer_id
  AND status = 'paid'
  AND created_at >= :month || '-01'
  AND created_at < date(:month || '-01', '+1 month')
ORDER BY created_at DESC, id DESC;
