/* move.c: being written */
