/* common.c: being written */
