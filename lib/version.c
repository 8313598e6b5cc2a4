/* version.c: being written */
