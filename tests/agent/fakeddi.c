/* SPDX-License-Identifier: MIT */
/*
 * fakeddi: a minimal plain-HTTP DDI server on 127.0.0.1 whose artifact download always
 * fails with a given status, to test the agent's reaction to 4xx (no retry) and 5xx
 * (retries with backoff). One connection at a time, "Connection: close".
 *
 *   fakeddi PORT ARTIFACT_STATUS
 *
 * Serves /t/controller/v1/dev1 (poll with a deploymentBase link), .../deploymentBase/1
 * (an os chunk whose download-http link is /artifact), /artifact (ARTIFACT_STATUS) and
 * .../feedback (200). Prints "listening", then one line per request: "METHOD PATH" and,
 * for POSTs, "BODY <body>".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define REQ_MAX 65536

static void respond(int fd, int status, const char *body)
{
	char head[256];
	size_t len = strlen(body);
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n", status, len);

	if (write(fd, head, (size_t)n) < 0 || (len && write(fd, body, len) < 0))
		perror("fakeddi: write");
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	char poll_body[512], dep_body[1024];
	int lfd, one = 1, status;
	long port;
	char *end;

	if (argc != 3) {
		fprintf(stderr, "usage: fakeddi PORT ARTIFACT_STATUS\n");
		return 2;
	}
	port = strtol(argv[1], &end, 10);
	if (*end || port <= 0 || port > 65535)
		return 2;
	status = (int)strtol(argv[2], &end, 10);
	if (*end || status < 100 || status > 599)
		return 2;
	snprintf(poll_body, sizeof(poll_body),
		 "{\"config\":{\"polling\":{\"sleep\":\"00:00:01\"}},\"_links\":{\"deploymentBase\":"
		 "{\"href\":\"http://127.0.0.1:%ld/t/controller/v1/dev1/deploymentBase/1?c=5\"}}}", port);
	snprintf(dep_body, sizeof(dep_body),
		 "{\"id\":\"1\",\"deployment\":{\"download\":\"forced\",\"update\":\"forced\",\"chunks\":"
		 "[{\"part\":\"os\",\"version\":\"9.9.9\",\"name\":\"fw\",\"artifacts\":[{\"filename\":"
		 "\"fw.lpkg\",\"size\":1000,\"hashes\":{\"sha1\":\"00\"},\"_links\":{\"download-http\":"
		 "{\"href\":\"http://127.0.0.1:%ld/artifact\"}}}]}]}}", port);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 16) < 0) {
		perror("fakeddi");
		return 1;
	}
	printf("listening\n");
	fflush(stdout);
	for (;;) {
		static char req[REQ_MAX + 1];
		char method[16], path[512];
		size_t got = 0, body_len = 0;
		char *hdr_end = NULL, *cl;
		int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

		if (c < 0)
			continue;
		/* headers, then Content-Length bytes of body */
		for (;;) {
			ssize_t n = read(c, req + got, REQ_MAX - got);

			if (n <= 0)
				break;
			got += (size_t)n;
			req[got] = '\0';
			if (!hdr_end && (hdr_end = strstr(req, "\r\n\r\n"))) {
				cl = strcasestr(req, "\r\nContent-Length:");
				body_len = cl && cl < hdr_end ? strtoul(cl + 17, NULL, 10) : 0;
			}
			if (hdr_end && got >= (size_t)(hdr_end + 4 - req) + body_len)
				break;
			if (got == REQ_MAX)
				break;
		}
		if (!hdr_end || sscanf(req, "%15s %511s", method, path) != 2) {
			close(c);
			continue;
		}
		printf("%s %s\n", method, path);
		if (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0)
			printf("BODY %.*s\n", (int)body_len, hdr_end + 4);
		fflush(stdout);
		if (strcmp(path, "/t/controller/v1/dev1") == 0)
			respond(c, 200, poll_body);
		else if (strncmp(path, "/t/controller/v1/dev1/deploymentBase/1", 38) == 0 &&
			 !strstr(path, "feedback"))
			respond(c, 200, dep_body);
		else if (strcmp(path, "/artifact") == 0)
			respond(c, status, "");
		else if (strstr(path, "/feedback") || strstr(path, "/configData"))
			respond(c, 200, "");
		else
			respond(c, 404, "");
		close(c);
	}
}
