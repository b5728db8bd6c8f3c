DROP TABLE push_deliveries;
