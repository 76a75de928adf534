# qmqpd as a test server: QMQP on 628, the inspection API and web UI on 8628, messages in memory.
# Built with the README's own install commands. Only for test networks: it accepts mail from
# every client; set QMQPD_API_TOKEN, and publish 8628 to trusted hosts only.
FROM node:20-bookworm-slim
# better-sqlite3 is compiled by npm ci (no prebuilt binary is downloaded).
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/qmqpkit
COPY . .
RUN npm ci && npm run build
RUN printf ':allow\n' > /etc/qmqp.tcp
USER node
EXPOSE 628 8628
# Docker lets unprivileged processes bind ports below 1024 inside a container's own network.
ENTRYPOINT ["node", "packages/server/bin/qmqpd"]
CMD ["--listen", "0.0.0.0:628", "--api", "0.0.0.0:8628", "--backend", "memory:", "--rules-source", "/etc/qmqp.tcp"]
