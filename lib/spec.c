/* spec.c: being written */
