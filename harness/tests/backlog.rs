//! Known answers for the backlog readers (`transport::backlog`), against the real brokers: a
//! queue or topic of a namespace of its own gets a known number of requests with no worker, and
//! the reader must count exactly them; taking some away must lower it by as many.

use std::time::{Duration, Instant};

use lapin::options::{BasicPublishOptions, QueueDeclareOptions, QueueDeleteOptions, QueuePurgeOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection, ConnectionProperties};
use paybench::brokers::{self, kafka as kafka_broker, rabbitmq, Broker};
use paybench::transport::arm::Backlog;
use paybench::transport::{amqp, kafka, Arm};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};

static START: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn broker_up(broker: &'static Broker) -> String {
    let endpoint = brokers::endpoints(|var| std::env::var(var).ok())[broker.name].clone();
    let _guard = START.lock().await;
    if let Err(e) = brokers::start(broker, &endpoint, brokers::DEFAULT_START_DEADLINE).await {
        panic!("the {} broker could not be started for this test: {e}", broker.name);
    }
    endpoint
}

fn namespace() -> String {
    format!("paybench-test-backlog-{}", uuid::Uuid::new_v4().simple())
}

/// Reads until the reader gives `expected` (a broker's counts follow a publish within
/// milliseconds), for at most 5 s; returns the last reading.
fn read_until(reader: &mut dyn Backlog, expected: u64) -> u64 {
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        let got = reader.read().expect("a backlog read");
        if got == expected || Instant::now() > until {
            return got;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn reader_of(arm: &Arm, endpoint: &str, ns: &str) -> Box<dyn Backlog> {
    let open = arm.family().backlog.expect("the family reads a backlog");
    open(arm, endpoint, ns).expect("backlog reader opens")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rabbitmq_backlog_counts_the_requests_waiting_in_the_queue() {
    let endpoint = broker_up(&rabbitmq::BROKER).await;
    let arm = Arm::parse("amqp").unwrap();
    let ns = namespace();
    let queue = amqp::Config::from_arm(&arm).unwrap().in_namespace(&ns).queue;
    let properties = ConnectionProperties::default()
        .with_executor(tokio_executor_trait::Tokio::current())
        .with_reactor(tokio_reactor_trait::Tokio::current());
    let connection = Connection::connect(&endpoint, properties).await.unwrap();
    let channel = connection.create_channel().await.unwrap();
    let durable = QueueDeclareOptions { durable: true, ..QueueDeclareOptions::default() };
    channel.queue_declare(&queue, durable, FieldTable::default()).await.unwrap();
    for i in 0..25u8 {
        channel
            .basic_publish("", &queue, BasicPublishOptions::default(), &[i], BasicProperties::default())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let (endpoint_r, ns_r) = (endpoint.clone(), ns.clone());
    let readings = tokio::task::spawn_blocking(move || {
        let mut reader = reader_of(&arm, &endpoint_r, &ns_r);
        assert!(reader.describe().contains(&ns_r), "{}", reader.describe());
        let full = read_until(reader.as_mut(), 25);
        (reader, full)
    })
    .await
    .unwrap();
    let (mut reader, full) = readings;
    assert_eq!(full, 25, "25 requests published, no worker");
    channel.queue_purge(&queue, QueuePurgeOptions::default()).await.unwrap();
    let empty = tokio::task::spawn_blocking(move || read_until(reader.as_mut(), 0)).await.unwrap();
    assert_eq!(empty, 0, "purged");
    channel.queue_delete(&queue, QueueDeleteOptions::default()).await.unwrap();
    // A queue that does not exist is an error naming it, not a zero.
    let arm = Arm::parse("amqp").unwrap();
    let e = tokio::task::spawn_blocking(move || reader_of(&arm, &endpoint, &ns).read().unwrap_err().to_string())
        .await
        .unwrap();
    assert!(e.contains(&queue) && e.contains("NOT_FOUND"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_backlog_is_the_groups_lag_on_the_request_topic() {
    let endpoint = broker_up(&kafka_broker::BROKER).await;
    let arm = Arm::parse("kafka").unwrap();
    let ns = namespace();
    let config = kafka::Config::from_arm(&arm).unwrap().in_namespace(&ns);
    let admin: AdminClient<DefaultClientContext> =
        rdkafka::ClientConfig::new().set("bootstrap.servers", &endpoint).create().unwrap();
    let topic = NewTopic::new(&config.request_topic, 2, TopicReplication::Fixed(1));
    admin.create_topics(&[topic], &AdminOptions::new()).await.unwrap();
    let (endpoint_b, ns_b, topic, group) = (endpoint.clone(), ns.clone(), config.request_topic.clone(), config.group);
    let (initial, after_commit) = tokio::task::spawn_blocking(move || {
        let producer: BaseProducer =
            rdkafka::ClientConfig::new().set("bootstrap.servers", &endpoint_b).create().unwrap();
        // 20 requests to partition 0, 10 to partition 1.
        for i in 0..30u32 {
            let record = BaseRecord::<(), [u8]>::to(&topic).payload(&[1u8][..]).partition(if i < 20 { 0 } else { 1 });
            producer.send(record).map_err(|(e, _)| e).unwrap();
        }
        producer.flush(Duration::from_secs(10)).unwrap();
        let mut reader = reader_of(&arm, &endpoint_b, &ns_b);
        let initial = read_until(reader.as_mut(), 30);
        // The group takes 12 of partition 0's: the lag is 18.
        let member: BaseConsumer = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", &endpoint_b)
            .set("group.id", &group)
            .set("enable.auto.commit", "false")
            .create()
            .unwrap();
        let mut done = TopicPartitionList::new();
        done.add_partition_offset(&topic, 0, Offset::Offset(12)).unwrap();
        member.commit(&done, CommitMode::Sync).unwrap();
        (initial, read_until(reader.as_mut(), 18))
    })
    .await
    .unwrap();
    assert_eq!(initial, 30, "30 requests produced, nothing committed");
    assert_eq!(after_commit, 18, "12 of them committed");
    admin.delete_topics(&[&config.request_topic], &AdminOptions::new()).await.unwrap();
}
