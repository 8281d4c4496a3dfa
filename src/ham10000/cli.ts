#!/usr/bin/env node
/** The `ham10000` command line. */
export {};
