/* pipe.c: being written */
