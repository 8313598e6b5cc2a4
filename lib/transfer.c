/* transfer.c: being written */
