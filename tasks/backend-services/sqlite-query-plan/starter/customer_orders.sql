-- A customer's paid orders in one month, newest first.
-- Parameters: :customer_id (integer), :month ('YYYY-MM').
SELECT id, created_at, total_cents
FROM orders
WHERE customer_id = :customer_id
  AND status = 'paid'
  AND strftime('%Y-%m', created_at) = :month
ORDER BY created_at DESC, id DESC;
