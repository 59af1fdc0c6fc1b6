/*
 * svc_linger: lingering close of client connections, so that an answer h2o gives before reading
 * a body (413 over max-body-bytes, 400 broken framing, 417) reaches a client that sends its whole
 * body before it reads. Loop thread only.
 */
#ifndef SVC_LINGER_H
#define SVC_LINGER_H

#include <h2o.h>

/* At most max_sockets connections linger at once (default 1024); before the loop starts. */
void svc_linger_init(int max_sockets);

/* A second descriptor of an accepted socket, held until svc_linger_release(); -1 when none
 * could be made (the connection is then closed as h2o closes it). */
int svc_linger_keep(h2o_socket_t *sock);

/* After h2o closed the socket: take the connection over (fd from svc_linger_keep, -1 = none). */
void svc_linger_release(h2o_loop_t *loop, int fd);

#endif
