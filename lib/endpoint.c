/* endpoint.c: being written */
