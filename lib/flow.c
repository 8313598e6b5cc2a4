/* flow.c: being written */
