/* bench: stub. */
