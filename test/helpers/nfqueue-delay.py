#!/usr/bin/env python3
# Delays every packet of one netfilter queue by a fixed time: a latency emulator for the NAT lab
# (test/helpers/nat-lab.mjs), for kernels without sch_netem. Python standard library only: it
# speaks nfnetlink_queue over an AF_NETLINK socket in the namespace it runs in.
#
#   python3 nfqueue-delay.py QUEUE_NUM DELAY_MS
#
# Prints "ready" once bound; every packet queued by `-j NFQUEUE --queue-num QUEUE_NUM` is accepted
# DELAY_MS after it arrived, in arrival order. Exits on SIGTERM/SIGINT or when stdin closes (the
# lab's process ends); the rules use --queue-bypass, so packets flow undelayed once it is gone.
import heapq, os, select, signal, socket, struct, sys, time

NETLINK_NETFILTER = 12
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET, NFQNL_MSG_VERDICT, NFQNL_MSG_CONFIG = 0, 1, 2
NFQA_PACKET_HDR = 1
NFQA_CFG_CMD, NFQA_CFG_PARAMS = 1, 2
NFQA_VERDICT_HDR = 2
NFQNL_CFG_CMD_BIND = 1
NFQNL_COPY_META = 1
NF_ACCEPT = 1
NLM_F_REQUEST, NLM_F_ACK = 1, 4
NLMSG_ERROR = 2

queue, delay = int(sys.argv[1]), float(sys.argv[2]) / 1000
sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
sock.bind((0, 0))
sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
seq = 0


def attr(kind, payload):
    data = struct.pack('=HH', 4 + len(payload), kind) + payload
    return data + b'\0' * (-len(data) % 4)


def send(msg_type, body, flags=NLM_F_REQUEST):
    global seq
    seq += 1
    nfgen = struct.pack('=BBH', socket.AF_UNSPEC, 0, socket.htons(queue))
    payload = nfgen + body
    sock.send(struct.pack('=IHHII', 16 + len(payload), (NFNL_SUBSYS_QUEUE << 8) | msg_type, flags, seq, 0) + payload)


def expect_ack():
    data = sock.recv(65536)
    length, kind = struct.unpack_from('=IH', data)
    if kind == NLMSG_ERROR and struct.unpack_from('=i', data, 16)[0] != 0:
        sys.exit(f'nfqueue {queue}: config refused (errno {-struct.unpack_from("=i", data, 16)[0]})')


send(NFQNL_MSG_CONFIG, attr(NFQA_CFG_CMD, struct.pack('!BBH', NFQNL_CFG_CMD_BIND, 0, 0)), NLM_F_REQUEST | NLM_F_ACK)
expect_ack()
send(NFQNL_MSG_CONFIG, attr(NFQA_CFG_PARAMS, struct.pack('!IB', 0, NFQNL_COPY_META)), NLM_F_REQUEST | NLM_F_ACK)
expect_ack()

running = True


def stop(*_):
    global running
    running = False


signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)
print('ready', flush=True)

due = []  # (time, order, packet id)
order = 0
while running:
    timeout = max(0.0, due[0][0] - time.monotonic()) if due else 1.0
    try:
        readable, _, _ = select.select([sock, sys.stdin], [], [], timeout)
    except InterruptedError:
        continue
    if sys.stdin in readable and not os.read(sys.stdin.fileno(), 4096):
        break
    if sock in readable:
        data = sock.recv(1 << 20)
        offset = 0
        while offset + 16 <= len(data):
            length, kind = struct.unpack_from('=IH', data, offset)
            if kind == (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET:
                pos = offset + 20  # nlmsghdr + nfgenmsg
                while pos + 4 <= offset + length:
                    alen, atype = struct.unpack_from('=HH', data, pos)
                    if atype & 0x7FFF == NFQA_PACKET_HDR:
                        (packet_id,) = struct.unpack_from('!I', data, pos + 4)
                        order += 1
                        heapq.heappush(due, (time.monotonic() + delay, order, packet_id))
                    pos += (alen + 3) & ~3
            offset += (length + 3) & ~3
    now = time.monotonic()
    while due and due[0][0] <= now:
        _, _, packet_id = heapq.heappop(due)
        send(NFQNL_MSG_VERDICT, attr(NFQA_VERDICT_HDR, struct.pack('!II', NF_ACCEPT, packet_id)))
