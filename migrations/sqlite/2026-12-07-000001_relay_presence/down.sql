DROP TABLE push_sockets;
DROP TABLE relay_instances;
