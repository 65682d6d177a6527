/* activities: activity task queues. A task scheduled for an activity waits in its queue until
 * a worker's GetActivityTask takes it; a GetActivityTask with nothing to take is parked (its
 * HTTP request suspended, no thread held) until a task arrives or 60 seconds pass, as AWS's
 * long poll does. Taking a task records ActivityStarted on the execution. Queues live in memory:
 * after a restart the executions' snapshots publish their pending tasks again. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/ids.h"
#include "states/activities.h"
#include "states/states_internal.h"

#define POLL_MS 60000

typedef struct act_task {
    char *token;
    json_t *input;
    struct act_task *next;
} act_task;

typedef struct act_poller {
    sl_states *s;
    sl_json_call *call;
    char *worker;
    act_task *got;
    bool answered; /* woken (task or timeout) */
    int refs;      /* the call and the timeout timer */
    struct act_poller *next;
} act_poller;

typedef struct sfn_activity_queue {
    char *arn;
    act_task *head, *tail;
    act_poller *pollers, *pollers_tail;
    struct sfn_activity_queue *next;
} sfn_activity_queue;

static sfn_activity_queue *queue_for(sl_states *s, const char *arn, bool create) {
    for (sfn_activity_queue *q = s->queues; q; q = q->next)
        if (strcmp(q->arn, arn) == 0) return q;
    if (!create) return NULL;
    sfn_activity_queue *q = sl_xcalloc(1, sizeof *q);
    q->arn = sl_xstrdup(arn);
    q->next = s->queues;
    s->queues = q;
    return q;
}

static void task_free(act_task *t) {
    if (!t) return;
    free(t->token);
    json_decref(t->input);
    free(t);
}

static void poller_unref(act_poller *p) {
    if (--p->refs > 0) return;
    task_free(p->got);
    free(p->worker);
    free(p);
}

static void started(sl_states *s, const char *token, const char *worker) {
    char arn[512];
    int run, seq;
    if (!sfn_token_parse(token, arn, sizeof arn, &run, &seq)) return;
    sfn_msg *m = sl_xcalloc(1, sizeof *m);
    m->kind = MSG_TASK_STARTED;
    m->run = run;
    m->seq = seq;
    m->worker = sl_xstrdup(worker ? worker : "");
    sfn_runtime_post(s, arn, m);
}

void sfn_activity_publish(sl_states *s, const char *activity_arn, const char *token,
                          json_t *input) {
    act_task *t = sl_xcalloc(1, sizeof *t);
    t->token = sl_xstrdup(token);
    t->input = json_incref(input);
    pthread_mutex_lock(&s->act_mu);
    sfn_activity_queue *q = queue_for(s, activity_arn, true);
    act_poller *p = q->pollers;
    if (p) {
        q->pollers = p->next;
        if (!q->pollers) q->pollers_tail = NULL;
        p->got = t;
        p->answered = true;
        char *worker = sl_xstrdup(p->worker ? p->worker : "");
        sl_json_call *call = p->call;
        pthread_mutex_unlock(&s->act_mu);
        started(s, token, worker);
        free(worker);
        sl_json_wake(call);
        return;
    }
    if (q->tail) q->tail->next = t;
    else q->head = t;
    q->tail = t;
    pthread_mutex_unlock(&s->act_mu);
}

void sfn_activity_forget(sl_states *s, const char *token) {
    pthread_mutex_lock(&s->act_mu);
    for (sfn_activity_queue *q = s->queues; q; q = q->next) {
        act_task *prev = NULL;
        for (act_task *t = q->head; t; prev = t, t = t->next) {
            if (strcmp(t->token, token) != 0) continue;
            if (prev) prev->next = t->next;
            else q->head = t->next;
            if (q->tail == t) q->tail = prev;
            task_free(t);
            pthread_mutex_unlock(&s->act_mu);
            return;
        }
    }
    pthread_mutex_unlock(&s->act_mu);
}

static void reply_task(sl_json_call *call, act_task *t) {
    if (!t) {
        sl_json_reply(call, json_object()); /* no task within the poll: an empty answer */
        return;
    }
    char *in = json_dumps(t->input, JSON_COMPACT | JSON_ENCODE_ANY);
    sl_json_reply(call, json_pack("{s:s, s:s}", "taskToken", t->token, "input", in ? in : "{}"));
    free(in);
}

static void poll_then(sl_json_call *call) {
    act_poller *p = call->state;
    sl_states *s = p->s;
    pthread_mutex_lock(&s->act_mu);
    act_task *t = p->got;
    p->got = NULL;
    pthread_mutex_unlock(&s->act_mu);
    reply_task(call, t);
    task_free(t);
}

static void poll_state_free(void *arg) {
    act_poller *p = arg;
    sl_states *s = p->s;
    pthread_mutex_lock(&s->act_mu);
    poller_unref(p);
    pthread_mutex_unlock(&s->act_mu);
}

static void poll_timeout(void *arg) {
    act_poller *p = arg;
    sl_states *s = p->s;
    pthread_mutex_lock(&s->act_mu);
    if (!p->answered) {
        p->answered = true;
        for (sfn_activity_queue *q = s->queues; q; q = q->next) {
            act_poller *prev = NULL;
            for (act_poller *x = q->pollers; x; prev = x, x = x->next) {
                if (x != p) continue;
                if (prev) prev->next = x->next;
                else q->pollers = x->next;
                if (q->pollers_tail == x) q->pollers_tail = prev;
                break;
            }
        }
        sl_json_call *call = p->call;
        bool stopping = s->stopping;
        poller_unref(p);
        pthread_mutex_unlock(&s->act_mu);
        if (!stopping) sl_json_wake(call);
        return;
    }
    poller_unref(p);
    pthread_mutex_unlock(&s->act_mu);
}

void sfn_activities_quiesce(sl_states *s) {
    pthread_mutex_lock(&s->act_mu);
    s->act_quiescing = true;
    for (sfn_activity_queue *q = s->queues; q; q = q->next) {
        for (act_poller *p = q->pollers; p; p = p->next) {
            p->answered = true;
            sl_json_wake(p->call);
        }
        q->pollers = q->pollers_tail = NULL;
    }
    pthread_mutex_unlock(&s->act_mu);
}

void sfn_activity_poll(sl_states *s, sl_json_call *call, const char *activity_arn,
                       const char *worker) {
    pthread_mutex_lock(&s->act_mu);
    if (s->act_quiescing) { /* the daemon is stopping: answer "no task" at once */
        pthread_mutex_unlock(&s->act_mu);
        sl_json_reply(call, json_object());
        return;
    }
    sfn_activity_queue *q = queue_for(s, activity_arn, true);
    act_task *t = q->head;
    if (t) {
        q->head = t->next;
        if (!q->head) q->tail = NULL;
        pthread_mutex_unlock(&s->act_mu);
        started(s, t->token, worker);
        reply_task(call, t);
        task_free(t);
        return;
    }
    act_poller *p = sl_xcalloc(1, sizeof *p);
    p->s = s;
    p->call = call;
    p->worker = worker ? sl_xstrdup(worker) : NULL;
    p->refs = 2;
    if (q->pollers_tail) q->pollers_tail->next = p;
    else q->pollers = p;
    q->pollers_tail = p;
    call->state = p;
    call->state_free = poll_state_free;
    sl_json_wait(call, poll_then);
    pthread_mutex_unlock(&s->act_mu);
    sfn_runtime_timer(s, sl_now_ms() + POLL_MS, poll_timeout, p);
}

void sfn_activities_free(sl_states *s) {
    for (sfn_activity_queue *q = s->queues, *nq; q; q = nq) {
        nq = q->next;
        for (act_task *t = q->head, *nt; t; t = nt) {
            nt = t->next;
            task_free(t);
        }
        free(q->arn);
        free(q);
    }
    s->queues = NULL;
}

bool sfn_activity_take(sl_states *s, const char *activity_arn, const char *worker, char **token,
                       json_t **input) {
    pthread_mutex_lock(&s->act_mu);
    sfn_activity_queue *q = queue_for(s, activity_arn, false);
    act_task *t = q ? q->head : NULL;
    if (t) {
        q->head = t->next;
        if (!q->head) q->tail = NULL;
    }
    pthread_mutex_unlock(&s->act_mu);
    if (!t) return false;
    started(s, t->token, worker);
    *token = t->token;
    *input = t->input;
    free(t);
    return true;
}
