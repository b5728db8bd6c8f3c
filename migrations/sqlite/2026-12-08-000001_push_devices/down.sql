DROP TABLE push_device_deliveries;
DROP TABLE push_devices;
