/*
 * check_spec: the job spec reads every field with its default, refuses each
 * mistake with the exact message, line and column a user will see, refuses
 * hostile input within bounded work, and survives emit -> parse unchanged.
 */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec.h"
#include "util.h"

#include "spec-test.h"

#define HEAD "version: 1\nname: t\ncommand: run\n" /* lines 1-3 */
#define RES "resources:\n  nodes: 2\n  gpus_per_node: 4\n" /* lines 4-6 */
#define CPU "resources: {nodes: 2, gpus_per_node: 0}\n" /* line 4 */
#define FILE_ "job.yaml"
#define WORKDIR "/home/u"

struct pcase {
	const char *name; /* what the case proves */
	const char *yaml;
	const char *error; /* NULL: valid */
	const char *checks[12]; /* "json.path=value" on spec_to_json */
};

static const struct pcase cases[] = {
	/* --- valid specs and their defaults ------------------------------ */
	{ .name = "defaults",
	    .yaml = HEAD RES,
	    .checks = { "workdir=/home/u", "resources.tasks_per_node=4",
	        "parallel.data=8", "parallel.launcher=srun",
	        "placement.policy=pack", "placement.max_wait=1m",
	        "checkpoint.pattern=step_{step}", "recovery.backoff=30s",
	        "recovery.max_infra_restarts=10",
	        "health.heartbeat_timeout=10m", "health.startup_timeout=30m",
	        "resources.time_limit=null" } },
	{ .name = "no warning signal unless asked",
	    .yaml = HEAD
	    "resources: {nodes: 2, gpus_per_node: 4, time_limit: 2m}\n",
	    .checks = { "warning.signal=none", "warning.before=2m",
	        "fabric.type=null", "fabric.interface=null" } },
	{ .name = "warning asked like sbatch --signal=USR1@90",
	    .yaml =
	        HEAD "resources: {nodes: 2, gpus_per_node: 4, time_limit: 1h}\n"
	             "warning: {signal: USR1, before: 90s}\n",
	    .checks = { "warning.signal=USR1", "warning.before=90s" } },
	{ .name = "fabric profile",
	    .yaml = HEAD RES
	    "fabric: {type: infiniband, interface: ib0, hca: 'mlx5_0:1'}\n",
	    .checks = { "fabric.type=infiniband", "fabric.interface=ib0",
	        "fabric.hca=mlx5_0:1" } },
	{ .name = "script launcher, tasks free",
	    .yaml = HEAD
	    "resources: {nodes: 2, gpus_per_node: 4, tasks_per_node: 1}\n"
	    "parallel: {launcher: script}\n",
	    .checks = { "parallel.launcher=script",
	        "resources.tasks_per_node=1" } },
	{ .name = "spare nodes",
	    .yaml = HEAD
	    "resources: {nodes: 2, gpus_per_node: 4, spare_nodes: 1}\n",
	    .checks = { "resources.spare_nodes=1", "resources.nodes=2" } },
	{ .name = "spare nodes need a launcher llmctl starts ranks with",
	    .yaml =
	        HEAD "resources: {nodes: 2, gpus_per_node: 4, spare_nodes: 1}\n"
	             "parallel: {launcher: script}\n",
	    .error = "job.yaml:4:54: resources.spare_nodes: needs a launcher "
	             "that llmctl starts the ranks with (srun, torchrun or "
	             "mpi), not script" },
	{ .name = "warning needs a time limit",
	    .yaml = HEAD RES "warning: {signal: USR1}\n",
	    .error =
	        "job.yaml:7:19: "
	        "warning.signal: needs resources.time_limit (a warning before "
	        "the limit)" },
	{ .name = "warning before the limit",
	    .yaml =
	        HEAD "resources: {nodes: 2, gpus_per_node: 4, time_limit: 1m}\n"
	             "warning: {signal: TERM}\n",
	    .error = "job.yaml:5:19: "
	             "warning.before: 2m (the default) is not shorter than "
	             "resources.time_limit (1m)" },
	{ .name = "warning at most Slurm's 65535s",
	    .yaml =
	        HEAD "resources: {nodes: 2, gpus_per_node: 4, time_limit: 2d}\n"
	             "warning: {signal: USR2, before: 1d}\n",
	    .error = "job.yaml:5:33: "
	             "warning.before: must be 1s to 65535s (Slurm's limit)" },
	{ .name = "warning signal unknown",
	    .yaml =
	        HEAD "resources: {nodes: 2, gpus_per_node: 4, time_limit: 1h}\n"
	             "warning: {signal: KILL}\n",
	    .error =
	        "job.yaml:5:19: "
	        "warning.signal: expected none, USR1, USR2, TERM, INT, HUP or "
	        "URG, got \"KILL\"" },
	{ .name = "fabric hca needs infiniband",
	    .yaml = HEAD RES "fabric: {type: ethernet, hca: mlx5_0}\n",
	    .error = "job.yaml:7:31: "
	             "fabric.hca: needs fabric.type infiniband" },
	{ .name = "fabric type typo",
	    .yaml = HEAD RES "fabric: {type: infiniban}\n",
	    .error = "job.yaml:7:16: "
	             "fabric.type: unknown fabric \"infiniban\"; did you mean "
	             "infiniband?" },
	{ .name = "cpu one task per node",
	    .yaml = HEAD CPU,
	    .checks = { "resources.tasks_per_node=1", "parallel.data=2" } },
	{ .name = "cpu explicit tasks",
	    .yaml = HEAD
	    "resources: {nodes: 2, gpus_per_node: 0, tasks_per_node: 8}\n",
	    .checks = { "resources.tasks_per_node=8", "parallel.data=16" } },
	{ .name = "command list is argv",
	    .yaml =
	        "version: 1\nname: t\ncommand: [python3, -c, 'print(1)']\n" RES,
	    .checks = { "command[0]=python3", "command[2]=print(1)" } },
	{ .name = "command keeps shell syntax verbatim",
	    .yaml = "version: 1\nname: t\n"
	            "command: 'echo \"$(id)\" `hostname`; exit 3'\n" RES,
	    .checks = { "command=echo \"$(id)\" `hostname`; exit 3" } },
	{ .name = "multi-line command",
	    .yaml = "version: 1\nname: t\n"
	            "command: |\n  set -e\n  python3 train.py\n" RES,
	    .checks = { "command=set -e\npython3 train.py\n" } },
	{ .name = "env scalars as text in file order",
	    .yaml = HEAD RES "env: {B: 1, A: \"x y\", C: true, D: ''}\n",
	    .checks = { "env={\"B\":\"1\",\"A\":\"x y\",\"C\":\"true\",\"D\":\"\"}" } },
	{ .name = "durations in every form",
	    .yaml = HEAD
	    "resources: {nodes: 2, gpus_per_node: 4, time_limit: 1-12:30:00}\n"
	    "placement: {max_wait: 90s}\nrecovery: {backoff: 2:30}\n"
	    "health: {heartbeat_timeout: 12:00:00, startup_timeout: 2d}\n",
	    .checks = { "resources.time_limit=2190m", "placement.max_wait=90s",
	        "recovery.backoff=150s", "health.heartbeat_timeout=12h",
	        "health.startup_timeout=2d" } },
	{ .name = "memory in megabytes",
	    .yaml = HEAD
	    "resources: {nodes: 2, gpus_per_node: 4, mem_per_node: 64000M}\n",
	    .checks = { "resources.mem_per_node=64000M" } },
	{ .name = "memory 2048M is 2G",
	    .yaml = HEAD
	    "resources: {nodes: 2, gpus_per_node: 4, mem_per_node: 2048MB}\n",
	    .checks = { "resources.mem_per_node=2G" } },
	{ .name = "memory in terabytes",
	    .yaml = HEAD
	    "resources: {nodes: 2, gpus_per_node: 4, mem_per_node: 1T}\n",
	    .checks = { "resources.mem_per_node=1T" } },
	{ .name = "hybrid derives data",
	    .yaml = HEAD "resources: {nodes: 4, gpus_per_node: 2}\n"
	                 "parallel: {tensor: 2, pipeline: 2}\n",
	    .checks = { "parallel.data=2", "parallel.tensor=2" } },
	{ .name = "data given and consistent",
	    .yaml = HEAD RES "parallel: {tensor: 4, pipeline: 1, data: 2}\n",
	    .checks = { "parallel.data=2" } },
	{ .name = "torchrun one process per node",
	    .yaml = HEAD
	    "resources: {nodes: 2, gpus_per_node: 8, tasks_per_node: 1}\n"
	    "parallel: {launcher: torchrun}\n",
	    .checks = { "resources.tasks_per_node=1", "parallel.data=2",
	        "parallel.launcher=torchrun" } },
	{ .name = "torchrun on cpus with tasks",
	    .yaml = HEAD
	    "resources: {nodes: 2, gpus_per_node: 0, tasks_per_node: 4}\n"
	    "parallel: {launcher: torchrun}\n",
	    .checks = { "parallel.data=8" } },
	{ .name = "mpi on cpus",
	    .yaml = HEAD
	    "resources: {nodes: 3, gpus_per_node: 0, tasks_per_node: 16}\n"
	    "parallel: {launcher: mpi}\n",
	    .checks = { "parallel.data=48", "parallel.launcher=mpi" } },
	{ .name = "exclude as a hostlist",
	    .yaml = HEAD RES "placement: {exclude: \"gpu[001-003,010]\"}\n",
	    .checks = { "placement.exclude=[\"gpu001\",\"gpu002\",\"gpu003\",\"gpu010\"]" } },
	{ .name = "exclude as a list of hostlists",
	    .yaml = HEAD RES "placement:\n  exclude: [a1, \"b[1-2]\"]\n",
	    .checks = { "placement.exclude=[\"a1\",\"b1\",\"b2\"]" } },
	{ .name = "null means default",
	    .yaml = HEAD
	    "resources:\n  nodes: 2\n  gpus_per_node: 4\n  gpu_type: ~\n"
	    "  partition: null\n  time_limit:\nhealth:\nparallel: ~\n",
	    .checks = { "resources.gpu_type=null", "resources.partition=null",
	        "health.startup_timeout=30m", "parallel.data=8" } },
	{ .name = "heartbeat off",
	    .yaml =
	        HEAD RES "health: {heartbeat_timeout: 0, startup_timeout: 0}\n",
	    .checks = { "health.heartbeat_timeout=0",
	        "health.startup_timeout=0" } },
	{ .name = "checkpoint fields",
	    .yaml = HEAD RES
	    "checkpoint: {dir: /c/run1, pattern: \"ckpt-{step}.pt\", keep: 2}\n",
	    .checks = { "checkpoint.dir=/c/run1",
	        "checkpoint.pattern=ckpt-{step}.pt", "checkpoint.keep=2" } },
	{ .name = "checkpoint file",
	    .yaml = HEAD RES
	    "checkpoint: {dir: /c, file: snapshot.pt, settle: 5s}\n",
	    .checks = { "checkpoint.file=snapshot.pt", "checkpoint.settle=5s",
	        "checkpoint.pattern=step_{step}" } },
	{ .name = "core tags",
	    .yaml = "version: !!int 1\nname: !!str 123\n"
	            "command: ! 42\nresources: !!map {nodes: !!int \"2\", "
	            "gpus_per_node: 4}\n",
	    .checks = { "name=123", "command=42", "resources.nodes=2" } },
	{ .name = "comments and CRLF",
	    .yaml = "# job\r\nversion: 1 # v\r\n"
	            "name: t\r\ncommand: run\r\nresources: {nodes: 2, "
	            "gpus_per_node: 4}\r\n",
	    .checks = { "name=t" } },
	{ .name = "JSON is YAML",
	    .yaml = "{\"version\": 1, \"name\": \"t\", "
	            "\"command\": [\"a\"], \"resources\": {\"nodes\": 1, "
	            "\"gpus_per_node\": 1}}",
	    .checks = { "command[0]=a", "parallel.data=1" } },
	{ .name = "workdir given",
	    .yaml = HEAD RES "workdir: /scratch/x\n",
	    .checks = { "workdir=/scratch/x" } },
	{ .name = "placement fields",
	    .yaml = HEAD RES
	    "placement: {policy: spread, max_leaf_switches: 2, max_wait: 0}\n",
	    .checks = { "placement.policy=spread",
	        "placement.max_leaf_switches=2", "placement.max_wait=0" } },
	{ .name = "unicode values",
	    .yaml = HEAD RES "env: {MSG: \"h\\u00e9llo \\u2028 \\x85 \\t\"}\n",
	    .checks = { "env.MSG=h\xc3\xa9llo \xe2\x80\xa8 \xc2\x85 \t" } },
	{ .name = "slurm fields",
	    .yaml =
	        HEAD "resources: {nodes: 2, gpus_per_node: 8, gpu_type: h100, "
	             "cpus_per_gpu: 12, partition: gpu, account: ml-research, "
	             "qos: high.prio}\nhealth: {preflight: nvidia-smi -L}\n",
	    .checks = { "resources.gpu_type=h100", "resources.cpus_per_gpu=12",
	        "resources.account=ml-research", "resources.qos=high.prio",
	        "health.preflight=nvidia-smi -L" } },
	{ .name = "recovery fields",
	    .yaml =
	        HEAD RES "recovery: {max_restarts: 0, max_infra_restarts: 50, "
	                 "backoff: 1m, no_progress_limit: 0}\n",
	    .checks = { "recovery.max_restarts=0",
	        "recovery.max_infra_restarts=50", "recovery.backoff=1m",
	        "recovery.no_progress_limit=0" } },

	/* --- cross-field rules -------------------------------------------- */
	{ .name = "tensor must divide tasks per node",
	    .yaml = HEAD RES "parallel:\n  tensor: 3\n",
	    .error =
	        "job.yaml:8:11: parallel.tensor: 3 does not divide the 4 tasks per "
	        "node (a tensor-parallel group must fit in one node)\n"
	        "job.yaml:8:11: parallel.tensor: tensor 3 * pipeline 1 = 3 does not "
	        "divide the world size 8 (2 nodes * 4 tasks)" },
	{ .name = "product must equal world size",
	    .yaml = HEAD RES "parallel:\n  tensor: 2\n  data: 3\n",
	    .error =
	        "job.yaml:9:9: parallel.data: tensor 2 * pipeline 1 * data 3 = 6, "
	        "but the world size is 8 (2 nodes * 4 tasks)" },
	{ .name = "pipeline must divide world size",
	    .yaml = HEAD RES "parallel: {pipeline: 3}\n",
	    .error =
	        "job.yaml:7:22: parallel.pipeline: tensor 1 * pipeline 3 = 3 does "
	        "not divide the world size 8 (2 nodes * 4 tasks)" },
	{ .name = "srun needs one task per gpu",
	    .yaml = HEAD RES "  tasks_per_node: 2\n",
	    .error =
	        "job.yaml:7:19: resources.tasks_per_node: must equal gpus_per_node "
	        "(4) with launcher srun, which starts one task per GPU" },
	{ .name = "torchrun needs gpus or tasks",
	    .yaml = HEAD CPU "parallel: {launcher: torchrun}\n",
	    .error =
	        "job.yaml:5:22: parallel.launcher: torchrun needs gpus_per_node > 0 "
	        "or an explicit resources.tasks_per_node" },
	{ .name = "startup shorter than heartbeat",
	    .yaml = HEAD RES
	    "health:\n  heartbeat_timeout: 1h\n  startup_timeout: 30m\n",
	    .error = "job.yaml:9:20: health.startup_timeout: 30m is shorter "
	             "than heartbeat_timeout (1h)" },
	{ .name = "heartbeat longer than default startup",
	    .yaml = HEAD RES "health:\n  heartbeat_timeout: 2h\n",
	    .error =
	        "job.yaml:8:22: health.heartbeat_timeout: 2h is longer than "
	        "startup_timeout (30m, the default); raise startup_timeout" },
	{ .name = "gpu_type needs gpus",
	    .yaml = HEAD
	    "resources: {nodes: 2, gpus_per_node: 0, gpu_type: a100}\n",
	    .error = "job.yaml:4:51: resources.gpu_type: needs gpus_per_node "
	             "> 0" },
	{ .name = "cpus_per_gpu needs gpus",
	    .yaml = HEAD
	    "resources: {nodes: 2, gpus_per_node: 0, cpus_per_gpu: 4}\n",
	    .error = "job.yaml:4:55: resources.cpus_per_gpu: needs "
	             "gpus_per_node > 0" },
	{ .name = "keep needs a dir",
	    .yaml = HEAD RES "checkpoint:\n"
	                     "  keep: 3\n",
	    .error = "job.yaml:8:9: checkpoint.keep: needs "
	             "checkpoint.dir" },
	{ .name = "file needs a dir",
	    .yaml = HEAD RES "checkpoint:\n"
	                     "  file: model.pt\n",
	    .error = "job.yaml:8:9: checkpoint.file: "
	             "needs checkpoint.dir" },
	{ .name = "file is a name",
	    .yaml = HEAD RES "checkpoint:\n"
	                     "  dir: /c\n  file: ../model.pt\n",
	    .error = "job.yaml:9:9: "
	             "checkpoint.file: must be a file name in checkpoint.dir, "
	             "without '/'" },

	/* --- one field wrong ---------------------------------------------- */
	{ .name = "pattern without {step}",
	    .yaml = HEAD RES "checkpoint:\n  dir: /c\n  pattern: ckpt\n",
	    .error =
	        "job.yaml:9:12: checkpoint.pattern: must contain {step} exactly "
	        "once, got \"ckpt\"" },
	{ .name = "pattern with {step} twice",
	    .yaml = HEAD RES "checkpoint:\n  pattern: \"{step}-{step}\"\n",
	    .error =
	        "job.yaml:8:12: checkpoint.pattern: must contain {step} exactly "
	        "once, got \"{step}-{step}\"" },
	{ .name = "pattern with a slash",
	    .yaml = HEAD RES "checkpoint:\n  pattern: a/{step}\n",
	    .error =
	        "job.yaml:8:12: checkpoint.pattern: must not contain '/', got "
	        "\"a/{step}\"" },
	{ .name = "max_leaf_switches at least 1",
	    .yaml = HEAD RES "placement:\n  max_leaf_switches: 0\n",
	    .error =
	        "job.yaml:8:22: placement.max_leaf_switches: must be from 1 to "
	        "65536, got 0" },
	{ .name = "name with a space",
	    .yaml = "version: 1\nname: my job\n"
	            "command: run\n" RES,
	    .error = "job.yaml:2:7: name: expected 1 to "
	             "64 letters, digits, '.', '_' or '-', got \"my job\"" },
	{ .name = "name of 65 characters",
	    .yaml =
	        "version: 1\nname: "
	        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
	        "command: run\n" RES,
	    .error =
	        "job.yaml:2:7: name: expected 1 to "
	        "64 letters, digits, '.', '_' or '-', got \"aaaaaaaaaaaaaaaaaaaaaaaaa"
	        "aaaaaaaaaaaaaaa...\"" },
	{ .name = "workdir relative",
	    .yaml = HEAD RES "workdir: rel/dir\n",
	    .error = "job.yaml:7:10: workdir: must be an absolute path, got "
	             "\"rel/dir\"" },
	{ .name = "nodes spelled out",
	    .yaml = HEAD "resources:\n  nodes: four\n"
	                 "  gpus_per_node: 4\n",
	    .error = "job.yaml:5:10: resources.nodes: "
	             "expected a positive integer, got \"four\"" },
	{ .name = "quoted integer",
	    .yaml = HEAD "resources:\n  nodes: \"4\"\n"
	                 "  gpus_per_node: 4\n",
	    .error =
	        "job.yaml:5:10: resources.nodes: "
	        "expected a positive integer, got the string \"4\" (drop the "
	        "quotes)" },
	{ .name = "integer overflow",
	    .yaml = HEAD
	    "resources:\n  nodes: 99999999999999999999\n  gpus_per_node: 4\n",
	    .error = "job.yaml:5:10: resources.nodes: must be from 1 to 65536, "
	             "got 99999999999999999999" },
	{ .name = "1e309",
	    .yaml = HEAD "resources:\n  nodes: 1e309\n"
	                 "  gpus_per_node: 4\n",
	    .error = "job.yaml:5:10: resources.nodes: "
	             "expected a positive integer, got \"1e309\"" },
	{ .name = "negative nodes",
	    .yaml = HEAD "resources:\n  nodes: -1\n"
	                 "  gpus_per_node: 4\n",
	    .error = "job.yaml:5:10: resources.nodes: "
	             "must be from 1 to 65536, got -1" },
	{ .name = "float gpus",
	    .yaml = HEAD "resources:\n  nodes: 1\n"
	                 "  gpus_per_node: 4.0\n",
	    .error =
	        "job.yaml:6:18: "
	        "resources.gpus_per_node: expected an integer >= 0, got \"4.0\"" },
	{ .name = "list for an integer",
	    .yaml = HEAD "resources:\n  nodes: 1\n"
	                 "  gpus_per_node: [8]\n",
	    .error =
	        "job.yaml:6:18: "
	        "resources.gpus_per_node: expected an integer >= 0, got a list" },
	{ .name = "empty command",
	    .yaml = "version: 1\nname: t\ncommand: \"\"\n" RES,
	    .error = "job.yaml:3:10: command: must not be empty" },
	{ .name = "empty command list",
	    .yaml = "version: 1\nname: t\n"
	            "command: []\n" RES,
	    .error = "job.yaml:3:10: command: must not be "
	             "an empty list" },
	{ .name = "command mapping",
	    .yaml = "version: 1\nname: t\n"
	            "command: {run: x}\n" RES,
	    .error = "job.yaml:3:10: command: "
	             "expected a string or a list, got a mapping" },
	{ .name = "command list item mapping",
	    .yaml = "version: 1\nname: t\n"
	            "command: [python3, {a: b}]\n" RES,
	    .error = "job.yaml:3:20: "
	             "command[1]: expected a string, got a mapping" },
	{ .name = "command empty program",
	    .yaml = "version: 1\nname: t\n"
	            "command: [\"\", x]\n" RES,
	    .error = "job.yaml:3:11: command[0]: "
	             "the program must not be empty" },
	{ .name = "env RANK reserved",
	    .yaml = HEAD RES "env:\n  RANK: 3\n",
	    .error = "job.yaml:8:3: env.RANK: RANK is set by llmctl for every "
	             "rank" },
	{ .name = "env MASTER_ADDR reserved",
	    .yaml = HEAD RES "env: {MASTER_ADDR: h}\n",
	    .error = "job.yaml:7:7: env.MASTER_ADDR: "
	             "MASTER_ADDR is set by llmctl for every rank" },
	{ .name = "env LLMCTL_ reserved",
	    .yaml = HEAD RES "env: {LLMCTL_JOB_ID: 1}\n",
	    .error =
	        "job.yaml:7:7: "
	        "env.LLMCTL_JOB_ID: names starting with LLMCTL_ are set by llmctl" },
	{ .name = "env bad names",
	    .yaml = HEAD RES "env:\n  1X: a\n  A-B: b\n  \"A B\": c\n",
	    .error =
	        "job.yaml:8:3: env.1X: not a valid variable name (letters, digits "
	        "and _, not starting with a digit)\n"
	        "job.yaml:9:3: env.A-B: not a valid variable name (letters, digits "
	        "and _, not starting with a digit)\n"
	        "job.yaml:10:3: env.\"A B\": not a valid variable name (letters, "
	        "digits and _, not starting with a digit)" },
	{ .name = "env value mapping",
	    .yaml = HEAD RES "env:\n  A: {b: c}\n",
	    .error = "job.yaml:8:6: env.A: expected a string, got a mapping" },
	{ .name = "env value null",
	    .yaml = HEAD RES "env:\n  A:\n  B: ~\n",
	    .error = "job.yaml:8:5: env.A: expected a string, got null\n"
	             "job.yaml:9:6: env.B: expected a string, got null" },
	{ .name = "env duplicate",
	    .yaml = HEAD RES "env:\n  A: 1\n  B: 2\n"
	                     "  A: 3\n",
	    .error = "job.yaml:10:3: env.A: duplicate key; first "
	             "given at line 8" },
	{ .name = "env as a list",
	    .yaml = HEAD RES "env: [A=1]\n",
	    .error = "job.yaml:7:6: env: expected a mapping, got a list" },
	{ .name = "env as a string",
	    .yaml = HEAD RES "env: A=1\n",
	    .error = "job.yaml:7:6: env: expected a mapping, got \"A=1\"" },
	{ .name = "duration without unit",
	    .yaml = HEAD
	    "resources: {nodes: 2, gpus_per_node: 4, time_limit: 60}\n",
	    .error = "job.yaml:4:53: resources.time_limit: 60 has no unit; "
	             "write 60s, 60m, 60h or 60d" },
	{ .name = "duration in words",
	    .yaml = HEAD RES "recovery:\n"
	                     "  backoff: 2 days\n",
	    .error =
	        "job.yaml:8:12: recovery.backoff: "
	        "expected a duration like 90s, 30m, 12h, 2d or D-HH:MM:SS, got "
	        "\"2 days\"" },
	{ .name = "duration 25 hours in D-HH",
	    .yaml = HEAD RES "recovery:\n"
	                     "  backoff: 1-25:00:00\n",
	    .error =
	        "job.yaml:8:12: "
	        "recovery.backoff: expected a duration like 90s, 30m, 12h, 2d or "
	        "D-HH:MM:SS, got \"1-25:00:00\"" },
	{ .name = "duration overflow",
	    .yaml = HEAD RES "placement:\n"
	                     "  max_wait: 99999999999d\n",
	    .error =
	        "job.yaml:8:13: "
	        "placement.max_wait: duration \"99999999999d\" is longer than "
	        "3650d" },
	{ .name = "memory in words",
	    .yaml = HEAD
	    "resources: {nodes: 2, gpus_per_node: 4, mem_per_node: lots}\n",
	    .error = "job.yaml:4:55: resources.mem_per_node: expected a size "
	             "like 512G, 64000M or 1T, got \"lots\"" },
	{ .name = "memory zero",
	    .yaml = HEAD
	    "resources: {nodes: 2, gpus_per_node: 4, mem_per_node: 0G}\n",
	    .error = "job.yaml:4:55: resources.mem_per_node: memory size must "
	             "be more than 0" },
	{ .name = "memory overflow",
	    .yaml = HEAD "resources: {nodes: 2, gpus_per_node: 4, "
	                 "mem_per_node: 99999999999T}\n",
	    .error =
	        "job.yaml:4:55: "
	        "resources.mem_per_node: memory size \"99999999999T\" is larger "
	        "than 1024T" },
	{ .name = "launcher typo",
	    .yaml = HEAD RES "parallel:\n"
	                     "  launcher: torchrn\n",
	    .error =
	        "job.yaml:8:13: "
	        "parallel.launcher: unknown launcher \"torchrn\"; did you mean "
	        "torchrun?" },
	{ .name = "launcher unknown",
	    .yaml = HEAD RES "parallel:\n"
	                     "  launcher: slurm\n",
	    .error = "job.yaml:8:13: parallel.launcher: "
	             "expected srun, torchrun, mpi or script, got \"slurm\"" },
	{ .name = "policy typo",
	    .yaml = HEAD RES "placement: {policy: sprad}\n",
	    .error = "job.yaml:7:21: placement.policy: unknown policy "
	             "\"sprad\"; did you mean spread?" },
	{ .name = "exclude bad range",
	    .yaml = HEAD RES "placement: {exclude: \"n[1-x]\"}\n",
	    .error = "job.yaml:7:22: "
	             "placement.exclude: bad range in \"n[1-x]\"" },
	{ .name = "exclude list bad item",
	    .yaml = HEAD RES "placement:\n  exclude: [n1, \"n[3-1]\"]\n",
	    .error =
	        "job.yaml:8:17: placement.exclude[1]: range 3-1 goes backwards" },
	/* A 202-byte hostlist message overflowed when cut (fuzz crash); the
	 * message quotes the bad name only, so that name is the long one. */
	{ .name = "long hostlist error is cut",
	    .yaml = HEAD RES
	    "placement: {exclude: \"h0,h1,m["
	    "00,01,02,03,04,05,06,07,08,09,10,11,12,13,14,15,16,17,18,19,"
	    "20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,"
	    "40,41,42,43,44,45,46,47,48,49,50,51,52,53,54,55,56,57,58,59,"
	    "60,61,62,63,64,65,66,67,68,69"
	    "\"}\n",
	    .error =
	        "job.yaml:7:22: placement.exclude: "
	        "missing ] in \"m[00,01,02,03,04,05,06,07,08,09,10,11,12,13,14"
	        ",15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34"
	        ",35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50,51,52,53,54"
	        ",55,56,57,58,59,60,6..." },
	/* Canonical YAML must read back: 20000 names of 64 are 1.3 MB of it. */
	{ .name = "exclude expanding past the size limit",
	    .yaml = HEAD RES
	    "placement: {exclude: \""
	    "gxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "[00001-20000]"
	    "\"}\n",
	    .error =
	        "job.yaml:7:22: placement.exclude: expands to 20000 names "
	        "(1280000 bytes); written out, the spec would be over 1048576 "
	        "bytes" },
	/* Fuzz 0247a43f: tiny, but 1.7 MB written out; now refused sooner. */
	{ .name = "exclude with a long host name (fuzz 0247a43f)",
	    .yaml = HEAD
	    "resources:\n  nodes: 4\n  gpus_per_node: 4\n"
	    "placement: {exclude: \"g99___________________________________"
	    "____________999999999999999999pu[002-20310,0]\"}\n",
	    .error =
	        "job.yaml:7:22: placement.exclude: host name longer than 64 "
	        "characters in \"g99_____________________________________...\"" },
	/* 8 KB of spec that hostlist_expand() would make 0.5 GB of names. */
	{ .name = "host name too long to expand",
	    .yaml = HEAD RES
	    "placement: {exclude: [n1, \"x12345678901234567890123456789012"
	    "345678901234567890123456789012345[1-65536]\"]}\n",
	    .error =
	        "job.yaml:7:27: placement.exclude[1]: host name longer than 64 "
	        "characters in \"x123456789012345678901234567890123456789...\"" },
	{ .name = "expanded host names of 64 characters",
	    .yaml = HEAD RES
	    "placement: {exclude: \"x1234567890123456789012345678901234567890"
	    "12345678901234567890123[1-2]\"}\n",
	    .error =
	        "job.yaml:7:22: "
	        "placement.exclude: host name longer than 64 characters in "
	        "\"x123456789012345678901234567890123456789...\"" },
	{ .name = "64-character host names expand",
	    .yaml = HEAD RES
	    "placement: {exclude: \""
	    "x12345678901234567890123456789012345678901234567890123456789"
	    "012[1-2],y"
	    "\"}\n",
	    .checks = { "placement.exclude[1]=x123456789012345678901234567890123456789"
	                "012345678901234567890122",
	        "placement.exclude[2]=y" } },
	{ .name = "section not a mapping",
	    .yaml = HEAD RES "parallel: 4\n",
	    .error = "job.yaml:7:11: parallel: expected a mapping, got \"4\"" },

	/* --- keys ----------------------------------------------------------- */
	{ .name = "did you mean in a section",
	    .yaml = HEAD "resources:\n"
	                 "  nodes: 2\n  gpu_per_node: 4\n",
	    .error =
	        "job.yaml:5:3: "
	        "resources.gpus_per_node: required key is missing\n"
	        "job.yaml:6:3: resources.gpu_per_node: unknown key; did you mean "
	        "gpus_per_node?" },
	{ .name = "key of a section at the top",
	    .yaml = HEAD RES "nodes: 2\n",
	    .error = "job.yaml:7:1: nodes: unknown key; did you mean "
	             "resources.nodes?" },
	{ .name = "key of another section",
	    .yaml = HEAD RES "parallel:\n"
	                     "  max_wait: 1h\n",
	    .error = "job.yaml:8:3: parallel.max_wait: "
	             "unknown key; did you mean placement.max_wait?" },
	{ .name = "section inside a section",
	    .yaml = HEAD RES "parallel:\n"
	                     "  health: {}\n",
	    .error = "job.yaml:8:3: parallel.health: unknown "
	             "key; health belongs at the top level" },
	{ .name = "unknown key far from all",
	    .yaml = HEAD RES "colour: red\n",
	    .error = "job.yaml:7:1: colour: unknown key" },
	{ .name = "missing name",
	    .yaml = "version: 1\ncommand: run\n" RES,
	    .error = "job.yaml:1:1: name: required key is missing" },
	{ .name = "missing resources",
	    .yaml = HEAD,
	    .error = "job.yaml:1:1: resources: required key is missing" },
	{ .name = "missing version and command",
	    .yaml = "name: t\n" RES,
	    .error = "job.yaml:1:1: version: required key is missing\n"
	             "job.yaml:1:1: command: required key is missing" },
	{ .name = "null resources",
	    .yaml = HEAD "resources:\nenv: {}\n",
	    .error =
	        "job.yaml:4:11: resources.nodes: required key is missing\n"
	        "job.yaml:4:11: resources.gpus_per_node: required key is missing" },
	{ .name = "version 2 alone",
	    .yaml = "version: 2\nname: bad name\n",
	    .error = "job.yaml:1:10: version: unsupported version 2; this "
	             "llmctl reads version 1" },
	{ .name = "version in words",
	    .yaml = "version: one\nname: t\n"
	            "command: run\n" RES,
	    .error = "job.yaml:1:10: version: expected a "
	             "positive integer, got \"one\"" },
	{ .name = "duplicate top-level key",
	    .yaml = HEAD RES "name: u\n",
	    .error = "job.yaml:7:1: name: duplicate key; first given at line "
	             "2" },
	{ .name = "duplicate section",
	    .yaml = HEAD RES "resources: {nodes: 1}\n",
	    .error = "job.yaml:7:1: resources: "
	             "duplicate key; first given at line 4" },
	{ .name = "top level is a list",
	    .yaml = "- version: 1\n",
	    .error =
	        "job.yaml:1:1: expected a mapping of keys at the top level, got a "
	        "list" },
	{ .name = "empty file",
	    .yaml = "",
	    .error = "job.yaml:1:1: the spec is empty" },
	{ .name = "only comments",
	    .yaml = "# nothing\n\n",
	    .error = "job.yaml:1:1: the spec is empty" },
	{ .name = "errors in file order",
	    .yaml = "version: 1\nname: a b\n"
	            "command: []\nresources: {nodes: 0, gpus_per_node: x}\n",
	    .error =
	        "job.yaml:2:7: name: expected 1 to 64 letters, digits, "
	        "'.', '_' or '-', got \"a b\"\n"
	        "job.yaml:3:10: command: must not be an empty list\n"
	        "job.yaml:4:20: resources.nodes: must be from 1 to 65536, got 0\n"
	        "job.yaml:4:38: resources.gpus_per_node: expected an integer >= 0, "
	        "got \"x\"" },

	/* --- hostile input ------------------------------------------------ */
	{ .name = "anchor",
	    .yaml = HEAD RES "env: {A: &x 1}\n",
	    .error = "job.yaml:7:10: env.A: anchors (&x) are not allowed" },
	{ .name = "alias",
	    .yaml = "version: 1\nname: *x\n",
	    .error = "job.yaml:2:7: name: aliases (*x) are not allowed" },
	{ .name = "billion laughs",
	    .yaml = "a: &a [\"lol\",\"lol\"]\n"
	            "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
	            "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n",
	    .error = "job.yaml:1:4: a: anchors (&a) are not allowed" },
	{ .name = "two documents",
	    .yaml = HEAD RES "---\nname: u\n",
	    .error = "job.yaml:7:1: more than one YAML document" },
	{ .name = "python tag",
	    .yaml = "version: 1\n"
	            "name: !!python/object/apply:os.system [\"id\"]\n",
	    .error =
	        "job.yaml:2:7: name: tag !!python/object/apply:os.system is not "
	        "allowed" },
	{ .name = "keys with tabs quoted in a path (fuzz crash de7f6820)",
	    .yaml = "s{s:\nruoes\t\tpara\tes: !!in_ver",
	    .error =
	        "job.yaml:2:17: \"ruoes\\x09\\x09para\\x09es\": tag !!in_ver is "
	        "not allowed" },
	{ .name = "local tag",
	    .yaml = "version: 1\nname: !foo t\n",
	    .error = "job.yaml:2:7: name: tag !foo is not allowed" },
	{ .name = "core tag on the wrong node",
	    .yaml = "version: 1\n"
	            "name: !!map t\n",
	    .error = "job.yaml:2:7: name: tag !!map does not "
	             "fit this scalar" },
	{ .name = "invalid UTF-8",
	    .yaml = "version: 1\nname: caf\xc3\n",
	    .error = "job.yaml:2:10: invalid UTF-8 (byte 0xc3)" },
	{ .name = "overlong UTF-8",
	    .yaml = "version: 1\nname: \xc0\xaf\n",
	    .error = "job.yaml:2:7: invalid UTF-8 (byte 0xc0)" },
	{ .name = "UTF-16 surrogate in UTF-8",
	    .yaml = "a: \xed\xa0\x80\n",
	    .error = "job.yaml:1:4: invalid UTF-8 (byte 0xed)" },
	{ .name = "control character",
	    .yaml = "version: 1\nname: a\x07\n",
	    .error = "job.yaml:2:8: control character U+0007 is not allowed" },
	{ .name = "NUL by escape",
	    .yaml = "version: 1\nname: t\n"
	            "command: \"a\\0b\"\n",
	    .error = "job.yaml:3:10: command: NUL "
	             "character in a string" },
	{ .name = "complex key",
	    .yaml = "? [a]\n: b\n",
	    .error = "job.yaml:1:3: a key must be a scalar, not a list" },
	{ .name = "tab indentation",
	    .yaml = "version: 1\nresources:\n"
	            "\tnodes: 2\n",
	    .error =
	        "job.yaml:3:1: syntax error: found "
	        "character that cannot start any token (while scanning for the "
	        "next token at 3:1)" },
	{ .name = "unterminated quote",
	    .yaml = "version: 1\nname: \"t\n",
	    .error = "job.yaml:3:1: syntax error: found unexpected end of "
	             "stream (while scanning a quoted scalar at 2:7)" },
	{ .name = "nested too deep",
	    .yaml = "a: [[[[[[[[[[[[[[[[[[[[[[[[[[[["
	            "[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n",
	    .error =
	        "job.yaml:1:35: a[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]"
	        "[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]: nested deeper than "
	        "32 levels" },
};

/* Follow "a.b[2].c" into j. */
static json_t *
json_path(json_t *j, const char *path)
{
	char *copy = xstrdup(path), *part, *save, *br;

	for (part = strtok_r(copy, ".", &save); part != NULL && j != NULL;
	     part = strtok_r(NULL, ".", &save)) {
		br = strchr(part, '[');
		if (br != NULL)
			*br++ = '\0';
		j = json_object_get(j, part);
		if (br != NULL)
			j = json_array_get(j, strtoul(br, NULL, 10));
	}
	free(copy);
	return j;
}

static char *
json_text(json_t *j)
{
	if (json_is_string(j))
		return xstrdup(json_string_value(j));
	if (json_is_integer(j))
		return xasprintf("%lld", (long long)json_integer_value(j));
	return json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
}

START_TEST(test_table)
{
	const struct pcase *c = &cases[_i];
	struct spec *sp;
	json_t *j;
	char *cause = NULL, *want, *eq, *have, *path;
	const char *dir;
	size_t i;
	FILE *f;

	/* SPEC_CORPUS_DIR=tests/fuzz/corpus refreshes the fuzzer's seeds. */
	if ((dir = getenv("SPEC_CORPUS_DIR")) != NULL) {
		path = xasprintf("%s/table-%03d.yaml", dir, _i);
		if ((f = fopen(path, "w")) != NULL) {
			fwrite(c->yaml, 1, strlen(c->yaml), f);
			fclose(f);
		}
		free(path);
	}
	sp = spec_parse(c->yaml, strlen(c->yaml), FILE_, WORKDIR, &cause);
	if (c->error != NULL) {
		ck_assert_msg(sp == NULL, "%s: accepted", c->name);
		ck_assert_msg(strcmp(cause, c->error) == 0,
		    "%s:\nwant: %s\ngot:  %s", c->name, c->error, cause);
		free(cause);
		return;
	}
	ck_assert_msg(sp != NULL, "%s: %s", c->name, cause);
	j = spec_to_json(sp);
	for (i = 0; i < nitems(c->checks) && c->checks[i] != NULL; i++) {
		want = xstrdup(c->checks[i]);
		eq = strchr(want, '=');
		*eq++ = '\0';
		have = json_text(json_path(j, want));
		ck_assert_msg(have != NULL && strcmp(have, eq) == 0,
		    "%s: %s: want %s, got %s", c->name, want, eq, have);
		free(have);
		free(want);
	}
	json_decref(j);
	assert_roundtrip(sp);
	spec_free(sp);
}
END_TEST

static const struct {
	const char *text;
	int64_t secs; /* -1: an error */
} durations[] = {
	{ "0", 0 },
	{ "90", 90 },
	{ "90s", 90 },
	{ "30m", 1800 },
	{ "12h", 43200 },
	{ "2d", 172800 },
	{ "1-00:00:00", 86400 },
	{ "2-03:04:05", 183845 },
	{ "1-2", 93600 },
	{ "1-2:30", 95400 },
	{ "01:02:03", 3723 },
	{ "5:30", 330 },
	{ "3650d", 315360000 },
	{ "3651d", -1 },
	{ "", -1 },
	{ "s", -1 },
	{ "1x", -1 },
	{ "-5m", -1 },
	{ "1.5h", -1 },
	{ "1-24:00:00", -1 },
	{ "00:60", -1 },
	{ "1:2:3:4", -1 },
	{ "999:00", -1 },
	{ "1-", -1 },
	{ "10m ", -1 },
	{ "9999999999999999999", -1 },
	{ "1e3s", -1 },
	/* Fuzz bf4e19a7: not UTF-8, so quoting it overran its buffer. */
	{ "\x9a\x9e\x8d\x8b\x9b\x9a\x8b\x15\x15\x15\x15\x15\x15\x15\x15"
	  "\x15\x15\x15\x15\x15\x15\x15\x15\x15\x15\x15\x15\x15\x15\x15"
	  "\x15\x15\x15\x15\x15\x15\x15\x15\x15\x15\x15\x15\x15\x15\x15"
	  "\x15\x15\x15\x15\x15\x15\x15\x15"
	  "9",
	    -1 },
};

START_TEST(test_duration)
{
	int64_t secs = -1;
	char *cause = NULL, *back;
	int rc;

	rc = spec_parse_duration(durations[_i].text, &secs, &cause);
	if (durations[_i].secs < 0) {
		ck_assert_msg(rc == -1, "\"%s\" accepted as %lld",
		    durations[_i].text, (long long)secs);
		ck_assert_ptr_nonnull(cause);
		free(cause);
		return;
	}
	ck_assert_msg(rc == 0, "%s: %s", durations[_i].text, cause);
	ck_assert_int_eq(secs, durations[_i].secs);
	back = spec_format_duration(secs);
	ck_assert_int_eq(spec_parse_duration(back, &secs, NULL), 0);
	ck_assert_int_eq(secs, durations[_i].secs);
	free(back);
}
END_TEST

static const struct {
	const char *text;
	uint64_t mb; /* 0: an error */
	const char *canon;
} sizes[] = {
	{ "512G", 524288, "512G" },
	{ "64000M", 64000, "64000M" },
	{ "64000", 64000, "64000M" },
	{ "1T", 1048576, "1T" },
	{ "2g", 2048, "2G" },
	{ "3GB", 3072, "3G" },
	{ "4GiB", 4096, "4G" },
	{ "1024T", 1073741824, "1024T" },
	{ "1025T", 0, NULL },
	{ "0", 0, NULL },
	{ "G", 0, NULL },
	{ "5K", 0, NULL },
	{ "5 G", 0, NULL },
	{ "5B", 0, NULL },
	{ "-1G", 0, NULL },
};

START_TEST(test_memory)
{
	uint64_t mb = 0;
	char *cause = NULL, *canon;
	int rc;

	rc = spec_parse_memory(sizes[_i].text, &mb, &cause);
	if (sizes[_i].mb == 0) {
		ck_assert_msg(rc == -1, "\"%s\" accepted", sizes[_i].text);
		free(cause);
		return;
	}
	ck_assert_msg(rc == 0, "%s: %s", sizes[_i].text, cause);
	ck_assert_uint_eq(mb, sizes[_i].mb);
	canon = spec_format_memory(mb);
	ck_assert_str_eq(canon, sizes[_i].canon);
	free(canon);
}
END_TEST

/* Every example we ship is valid and survives emit -> parse. */
START_TEST(test_examples)
{
	static const char *const names[] = { "hello", "ddp", "hybrid" };
	struct spec *sp;
	char *path, *buf, *cause = NULL;
	const char *srcdir = getenv("srcdir");
	size_t len;

	path = xasprintf("%s/conf/examples/%s.yaml",
	    srcdir != NULL ? srcdir : ".", names[_i]);
	ck_assert_msg(read_file(path, SPEC_MAX_BYTES, &buf, &len, &cause) == 0,
	    "%s", cause);
	sp = spec_parse(buf, len, path, WORKDIR, &cause);
	ck_assert_msg(sp != NULL, "%s", cause);
	if (_i == 0) {
		ck_assert_int_eq(sp->resources.gpus_per_node, 0);
		ck_assert_int_eq(spec_world_size(sp), 2);
	} else if (_i == 1) {
		ck_assert_str_eq(sp->workdir, WORKDIR);
		ck_assert_int_eq(sp->parallel.data, 4);
		ck_assert_ptr_nonnull(sp->checkpoint.dir);
	} else {
		ck_assert_int_eq(spec_world_size(sp), 8);
		ck_assert_int_eq(sp->parallel.tensor, 2);
		ck_assert_int_eq(sp->parallel.pipeline, 2);
		ck_assert_int_eq(sp->parallel.data, 2);
	}
	assert_roundtrip(sp);
	spec_free(sp);
	free(buf);
	free(path);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("spec");
	TCase *tc;
	SRunner *sr;
	int failed;

	tc = tcase_create("table");
	tcase_add_loop_test(tc, test_table, 0, nitems(cases));
	suite_add_tcase(s, tc);
	tc = tcase_create("units");
	tcase_add_loop_test(tc, test_duration, 0, nitems(durations));
	tcase_add_loop_test(tc, test_memory, 0, nitems(sizes));
	suite_add_tcase(s, tc);
	tc = tcase_create("examples");
	tcase_add_loop_test(tc, test_examples, 0, 3);
	suite_add_tcase(s, tc);
	tc = tcase_create("roundtrip");
	spec_add_roundtrip(tc);
	suite_add_tcase(s, tc);
	tc = tcase_create("limits");
	tcase_set_timeout(tc, 30);
	spec_add_limits(tc);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
