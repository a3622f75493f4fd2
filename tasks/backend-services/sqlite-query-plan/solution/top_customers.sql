-- The customers with the most paid revenue in one month.
-- Parameters: :month ('YYYY-MM'), :limit (integer).
SELECT c.email, c.name, COUNT(*) AS orders, SUM(o.total_cents) AS revenue_cents
FROM orders AS o
JOIN customers AS c ON c.id = o.customer_id
WHERE o.status = 'paid'
  AND o.created_at >= :month || '-01'
  AND o.created_at < date(:month || '-01', '+1 month')
GROUP BY c.id
ORDER BY revenue_cents DESC, c.email
LIMIT :limit;
