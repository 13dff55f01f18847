/* The real-node bed's backend for LoadBalancer Service tests (no registry, so no stock image):
 * an HTTP/1.0 server on port 8080 answering every request with 200 and one line, the pod's
 * name (its hostname) and the node it runs on ($NODE_NAME), so a client can see which pod and
 * node served it. One connection at a time; reads at most one buffer of the request; exits on
 * SIGTERM/SIGINT. Built static with musl-gcc. */
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static void stop(int sig) {
  (void)sig;
  _exit(0);
}

int main(void) {
  signal(SIGINT, stop);
  signal(SIGTERM, stop);
  signal(SIGPIPE, SIG_IGN);
  char host[256] = "unknown";
  gethostname(host, sizeof host - 1);
  const char *node = getenv("NODE_NAME");
  char body[600];
  int len = snprintf(body, sizeof body, "%s on %s\n", host, node ? node : "unknown");
  char reply[800];
  int n = snprintf(reply, sizeof reply,
                   "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                   "Connection: close\r\n\r\n%s",
                   len, body);
  int s = socket(AF_INET6, SOCK_STREAM, 0);
  int no = 0, yes = 1;
  setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &no, sizeof no);
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons(8080)};
  if (bind(s, (struct sockaddr *)&a, sizeof a) != 0 || listen(s, 64) != 0) {
    perror("echo: listen :8080");
    return 1;
  }
  for (;;) {
    int c = accept(s, 0, 0);
    if (c < 0) continue;
    struct timeval tv = {.tv_sec = 2};
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[4096];
    if (read(c, buf, sizeof buf) > 0) {
      (void)!write(c, reply, (size_t)n);
    }
    close(c);
  }
}
