-- Indexes for the reporting queries: CREATE INDEX statements only (at most three).

-- customer_orders: equality on customer and status, then a range on created_at that
-- also delivers the rows in ORDER BY order (the rowid id is the index's last column).
CREATE INDEX orders_customer_status_created ON orders (customer_id, status, created_at);

-- top_customers: one month of paid orders is a contiguous range of this index.
CREATE INDEX orders_status_created ON orders (status, created_at);
